"""The shape drill: seeded questions and grading (pure), and the page."""
