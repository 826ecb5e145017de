"""HTTP layer (Litestar). create_app() in app.py is the one composition root."""
