SELECT compression, body FROM raw_pages WHERE raw_hash = $raw_hash;
