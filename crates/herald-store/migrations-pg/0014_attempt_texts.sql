-- An attempt's text is its notification's rendered text for its channel
-- (`cascade::new_attempts` copies `rendered[channel_idx]`), so the copy in
-- each attempt only made every version of the row (queued, sending,
-- answered) longer. The claim reads the text from the notification it
-- joins anyway. BENCHMARKS.md "PostgreSQL, fourth sitting".
ALTER TABLE attempts DROP COLUMN subject, DROP COLUMN title, DROP COLUMN body;
