"""simulator: realistic sales-call traffic with known ground truth."""
