"""mailbot.dev"""
