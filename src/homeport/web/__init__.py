"""The web tier: FastAPI app, server-rendered pages, static assets."""
