"""The collections lifecycle: CRM events in, promises to pay followed until kept or broken, follow-up
and real-time touches (planned Attempt rows, gated at dial time), every call audited when it ends,
funnel reports. Tables: agent/store/lifecycle_models.py (schema 0004)."""
