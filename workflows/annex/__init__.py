"""workflows.annex"""
