"""The live demo console served at /demo: static HTML, CSS and JavaScript (no build step,
no CDN; every asset is in static/). The page reads the public API with the key the user
gives it; the service has no demo-only data path."""
