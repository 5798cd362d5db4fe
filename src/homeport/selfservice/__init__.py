"""Self-service: the subscriber portal (the app as the front door), the chatbot and the
knowledge base. A domain above ``support``: it opens and updates cases through the support
actions and reads the home network through the health and network services."""
