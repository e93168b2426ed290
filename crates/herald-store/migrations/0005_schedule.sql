-- Appointment-aware delivery (API.md "Bookings, schedules, deadlines,
-- quiet hours"). A notification keeps its schedule (send time, deadline,
-- cancel time, quiet hours resolved for its recipient) as JSON beside the
-- plan, and its booking in columns so that a booking cancel or move finds
-- it by (tenant, booking id) and knows which times follow the booking.
ALTER TABLE notifications ADD COLUMN schedule TEXT;
ALTER TABLE notifications ADD COLUMN booking_id TEXT;
ALTER TABLE notifications ADD COLUMN booking_starts_at INTEGER;
-- The send time is this long before the booking's start (send_before_start).
ALTER TABLE notifications ADD COLUMN send_before_start_ms INTEGER;
-- The deadline is the booking's start (no deliver_before was given).
ALTER TABLE notifications ADD COLUMN deadline_from_booking INTEGER NOT NULL DEFAULT 0;
CREATE INDEX notifications_by_booking ON notifications (tenant_id, booking_id)
    WHERE booking_id IS NOT NULL;
-- wake_due and next_due_at cover scheduled notifications too: a final
-- notification never has a wake time.
DROP INDEX notifications_wake;
CREATE INDEX notifications_wake ON notifications (wake_at) WHERE wake_at IS NOT NULL;
-- No attempt starts at or after this time (the notification's deadline,
-- copied so that the claim checks it without reading the notification).
ALTER TABLE attempts ADD COLUMN not_after INTEGER;
ALTER TABLE tenants ADD COLUMN timezone TEXT;
