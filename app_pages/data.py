import streamlit as st

from components import data, upload

engine = data.engine_or_stop()
st.title("Data")
st.caption(
    "Load the network's outcome tables: choose files, review what they would change, then confirm. "
    "Every load is recorded and can be undone."
)

st.header("Upload")
upload.upload_section(engine)

st.header("Templates")
upload.template_downloads()
st.subheader("Your current rows, to edit")
upload.current_rows_download(engine, data.school_years(engine))

st.header("Load history")
upload.load_history(engine)
