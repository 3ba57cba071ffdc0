"""mailbot.mail"""
