"""One APIRouter per resource. Their order is the order of the routes: /tickets/stats comes before
/tickets/{ticket_id}, which would otherwise take 'stats' for an id."""
