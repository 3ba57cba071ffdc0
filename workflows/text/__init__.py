"""workflows.text"""
