-- Content-addressed: a body already archived is not stored twice.
INSERT INTO raw_pages (raw_hash, compression, body, size, compressed_size, first_fetched_at)
SELECT unnest($hashes), 'zlib', unnest($bodies), unnest($sizes), unnest($compressed_sizes), $now
ON CONFLICT DO NOTHING;
