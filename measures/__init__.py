"""Measurement-based care: questionnaires (PHQ-9, GAD-7, PCL-5, 0–10 pain), their scores and
what they say about the course of treatment."""
