"""One serializer per network, all on one protocol (`base.FrameSerializer`): wire ⇄ events."""
