"""Remote lists: downloading `url:` sources and keeping their last good copies current."""
