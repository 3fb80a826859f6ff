"""The world memory (nodes, facts, relations, entity links) and skills."""
