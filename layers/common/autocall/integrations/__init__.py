"""One module per vendor or AWS service, at the edge: the domain speaks its own terms to them."""
