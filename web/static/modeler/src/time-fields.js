// The statutory helpers (engine/statutory_calendar.py) as the analyst thinks of them: a number of
// working days, a number of calendar days, a month and day every year, a number of days of an ISO
// duration. `read*` turns an expression of the diagram into fields, or null when the fields cannot
// say it (a condition, case data other than a plain name): that expression stays text. `write*`
// gives back the very expression the engine reads, so the diagram keeps one language.

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
const COUNTED = new RegExp('^(working_days_after|days_after)\\(\\s*(today\\(\\)|' + NAME + ')\\s*,\\s*(\\d+)\\s*\\)$');
const ANNUAL = /^next_annual\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$/;
const DAYS = /^P(\d+)D$/;

function unwrap(text) {
  const m = /^end_of_day\((.*)\)$/.exec(text);
  return m ? { inner: m[1].trim(), endOfDay: true } : { inner: text, endOfDay: false };
}

function validDay(month, day) {
  // 29 February is refused: "every 29 February" is no yearly date
  const days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return month >= 1 && month <= 12 && day >= 1 && day <= days[month - 1];
}

// A date: {kind: 'working'|'calendar', from, days, endOfDay} or {kind: 'annual', month, day, endOfDay}.
export function readDate(text) {
  const { inner, endOfDay } = unwrap((text || '').trim());
  let m = COUNTED.exec(inner);
  if (m) {
    return { kind: m[1] === 'working_days_after' ? 'working' : 'calendar',
      from: m[2] === 'today()' ? '' : m[2], days: parseInt(m[3], 10), endOfDay };
  }
  m = ANNUAL.exec(inner);
  if (m && validDay(parseInt(m[1], 10), parseInt(m[2], 10))) {
    return { kind: 'annual', month: parseInt(m[1], 10), day: parseInt(m[2], 10), endOfDay };
  }
  return null;
}

export function writeDate(date) {
  let inner;
  if (date.kind === 'annual') {
    inner = 'next_annual(' + date.month + ', ' + date.day + ')';
  } else {
    const helper = date.kind === 'working' ? 'working_days_after' : 'days_after';
    inner = helper + '(' + (date.from || 'today()') + ', ' + date.days + ')';
  }
  return date.endOfDay ? 'end_of_day(' + inner + ')' : inner;
}

// A duration in days: {days, quoted} (a timer's duration is a Python string: "P30D", quoted).
export function readDuration(text) {
  const t = (text || '').trim();
  const quoted = /^"[^"]*"$/.test(t);
  const m = DAYS.exec(quoted ? t.slice(1, -1) : t);
  return m ? { days: parseInt(m[1], 10), quoted } : null;
}

export function writeDuration(duration) {
  const iso = 'P' + duration.days + 'D';
  return duration.quoted ? '"' + iso + '"' : iso;
}

// A default for each kind chosen in the panel, carrying over what the analyst had entered.
export function dateOfKind(kind, before, endOfDay) {
  const days = before && before.days ? before.days : 10;
  if (kind === 'annual') {
    return { kind, month: (before && before.month) || 3, day: (before && before.day) || 31, endOfDay };
  }
  return { kind, from: (before && before.from) || '', days, endOfDay };
}

export function isName(text) {
  return new RegExp('^' + NAME + '$').test(text);
}

export function fitsDay(month, day) {
  return validDay(month, day);
}
