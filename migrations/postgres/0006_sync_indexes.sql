-- Incremental /sync reads receipts by position across the user's rooms with one index range.
CREATE INDEX receipts_stream_ordering_idx ON receipts (stream_ordering);
