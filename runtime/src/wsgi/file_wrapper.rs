//! `wsgi.file_wrapper` (PEP 3333's optional extension).

use pyo3::prelude::*;

/// `wsgi.file_wrapper`: lets Django's FileResponse and Flask's send_file hand over a file that
/// the runtime reads in `block_size` pieces.
#[pyclass(module = "lambda_wsgi", frozen)]
pub(super) struct FileWrapper {
    pub(super) filelike: Py<PyAny>,
    pub(super) block_size: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, block_size = 8192))]
    fn new(filelike: Py<PyAny>, block_size: usize) -> Self {
        // read(0) is always empty: it would end the body before it began.
        let block_size = if block_size == 0 { 8192 } else { block_size };
        FileWrapper { filelike, block_size }
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let chunk = self.filelike.bind(py).call_method1("read", (self.block_size,))?;
        Ok(if chunk.is_truthy()? { Some(chunk) } else { None })
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        super::close(self.filelike.bind(py))
    }
}
