"""`dnsfence report`: blocked attempts per list and per day, from the query log."""
