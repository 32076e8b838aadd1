"""Read models over the loan book and its daily snapshots: the dashboard, loan lists, trends."""
