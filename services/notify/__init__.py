"""Notify: tells reporters and liaison officers what happened to a report, on their own channel."""
