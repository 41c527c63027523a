"""The application's telephony routes: what a network's webhooks do to storage."""
