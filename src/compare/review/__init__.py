"""Expert review: the review queue, workbooks out and in, labels from reviews, and the simulation
of review feedback.
"""
