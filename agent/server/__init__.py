"""The dialwise service: REST API, supervisor console, live monitor and CRM webhooks.

`create_app(db_url)` in agent.server.app builds the FastAPI application.
"""
