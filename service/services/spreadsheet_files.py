"""Reading an uploaded spreadsheet (.csv in UTF-8, or the first sheet of an .xlsx) into rows of cell values.

Bounded on every side an upload can abuse: bytes, rows scanned (blank ones too), columns, and an xlsx's unpacked size.
"""
import csv
import io
import warnings
import zipfile
from itertools import islice

from openpyxl import load_workbook

from ..errors import ApiError

MAX_BYTES = 5 * 1024 * 1024
SCANNED_PER_ROW = 4  # blank rows count too, so a sheet formatted far down cannot keep us reading
MAX_UNZIPPED = 100 * 1024 * 1024  # an xlsx is a zip: refuse bombs before openpyxl inflates them
MAX_COLUMNS = 60
ZIP_MAGIC, OLE_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


def records(file, max_rows: int, invalid) -> list[list]:
    """The rows of an uploaded .csv (UTF-8) or .xlsx (first sheet); `invalid(detail, **ext)` makes the 422."""
    limit = SCANNED_PER_ROW * max_rows
    if file is None or not file.filename:
        raise invalid("Send the spreadsheet as multipart field 'file'.")
    data = file.stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise invalid(f"The file may be at most {MAX_BYTES} bytes.", max_bytes=MAX_BYTES)
    extension = file.filename.rsplit(".", 1)[-1].lower() if "." in file.filename else ""
    if extension == "xlsx" and data.startswith(ZIP_MAGIC):
        records = _xlsx_records(data, invalid, limit)
    elif extension == "csv" and not data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        records = _csv_records(data, invalid, limit)
    else:
        raise invalid("Upload a .csv (UTF-8) or .xlsx file; old .xls workbooks are not read.")
    if len(records) > limit:
        raise invalid(f"At most {max_rows} rows can be imported at once.", max_rows=max_rows)
    return records


def _csv_records(data: bytes, invalid, limit: int) -> list[list]:
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError:
        raise invalid("The CSV file is not UTF-8; save it as 'CSV UTF-8'.")
    if "\x00" in text:
        raise invalid("The file is not a CSV text file.")
    try:
        return list(islice(csv.reader(io.StringIO(text, newline="")), limit + 1))
    except csv.Error:
        raise invalid("The CSV file cannot be read.")


def _xlsx_records(data: bytes, invalid, limit: int) -> list[list]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about features it skips (styles, validations)
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED:
                    raise invalid("The workbook is too large once unpacked.")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                rows = book.worksheets[0].iter_rows(values_only=True, max_col=MAX_COLUMNS)
                return [list(row) for row in islice(rows, limit + 1)]
            finally:
                book.close()
        except ApiError:
            raise
        except Exception:  # a damaged workbook fails in many ways inside zipfile, lxml and openpyxl
            raise invalid("The xlsx workbook cannot be read.")


def blank(record) -> bool:
    """Whether every cell of a row is empty."""
    return all(value is None or (isinstance(value, str) and not value.strip()) for value in record)
