"""mailbot.loop"""
