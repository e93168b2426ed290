-- What an SMS costs: an optional price per segment on an integration, and
-- each accepted SMS attempt's cost (segments × that price when it went
-- out), in millionths of the price's unit so that sums are exact.
ALTER TABLE integrations ADD COLUMN price_per_segment REAL;
ALTER TABLE operator_integrations ADD COLUMN price_per_segment REAL;
ALTER TABLE attempts ADD COLUMN cost_micros INTEGER;
