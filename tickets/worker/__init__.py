"""Work the service does in the background, beside the requests: SLA breach events, webhook delivery."""
