"""The verification desk: administrators check every report within 3 working days."""
