// The attributed CSV as the console reads it back to mark bad rows: RFC 4180 records (quoted
// fields may hold commas, quotes doubled, and line breaks).

/** The records of `text`, each a list of its fields; a trailing line break ends the last one. */
export function parseCsvRecords(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let index = 0;
  while (index < text.length) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"') {
        if (text[index + 1] === '"') {
          field += '"';
          index += 2;
          continue;
        }
        quoted = false;
      } else field += char;
      index += 1;
      continue;
    }
    if (char === '"') quoted = true;
    else if (char === ',') {
      record.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      if (char === '\r' && text[index + 1] === '\n') index += 1;
    } else field += char;
    index += 1;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/** How many data rows a CSV upload has (its records after the header), to show progress against. */
export function countCsvRows(text: string): number {
  return Math.max(0, parseCsvRecords(text).filter((record) => record.some((field) => field !== '')).length - 1);
}
