"""Customer experience: CSAT answers on cases and the experience score EEX per process and channel."""
