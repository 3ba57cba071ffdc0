"""mailbot.annex"""
