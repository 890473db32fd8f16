"""The HL7 v2 SIU outbound feed: messages (messages.py), the outbox writes (outbox.py), the signal
receivers that call them (receivers.py), MLLP (mllp.py) and in-order delivery (delivery.py)."""
