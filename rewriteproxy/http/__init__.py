"""HTTP details a faithful proxy must get right: hop-by-hop headers, content codings, validators."""
