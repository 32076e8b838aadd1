"""Who is overdue and by how much: ageing, penalty accrual, holds, the daily run."""
