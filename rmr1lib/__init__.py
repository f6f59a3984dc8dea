"""rmr1lib"""
