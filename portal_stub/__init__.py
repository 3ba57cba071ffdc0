"""The stand-in of the ministry portal "Espace collectivités": accounts, spaces, Q&A, web app."""
