import streamlit as st

from components import data, page, table
from dashboard import formatting
from dashboard.views import glossary

st.title("Glossary")
st.caption("What each figure on these pages means, and which report its numbers come from. Two figures can share a "
           "word and differ because they come from different reports; each is named by its source.")  # fmt: skip
page.as_of_line(data.engine_or_stop())

search = st.text_input("Find a term", key="glossary_search", placeholder="For example: hours, tier, hidden")
terms = glossary.table(search)
if terms.empty:
    st.info(f"No term or meaning holds '{formatting.markdown_text(search[:60])}'. Clear the box to see every term.")
    st.stop()
for group, part in terms.groupby("group", sort=False):
    st.subheader(group)
    for row in part.itertuples():
        st.markdown(f"**{formatting.markdown_text(row.term)}**: {formatting.markdown_text(row.meaning)}  \n"
                    f":gray[Source: {formatting.markdown_text(row.source)}.]")  # fmt: skip
table.download_button(terms, "glossary")
