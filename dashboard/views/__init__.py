"""One module of logic per page, named after the page; each returns frames and figures for its page."""
