package cli

import (
	"fmt"
	"strconv"
	"time"
)

// appendStrftime appends what glibc's strftime writes for the two-character
// format "%c" in the C locale, for the @c fields of -F. Conversions glibc
// does not know come out as written, '%' and all, as they do in
// mosquitto_sub.
func appendStrftime(b []byte, c byte, t time.Time) []byte {
	switch c {
	case 'a':
		return append(b, t.Weekday().String()[:3]...)
	case 'A':
		return append(b, t.Weekday().String()...)
	case 'b', 'h':
		return append(b, t.Month().String()[:3]...)
	case 'B':
		return append(b, t.Month().String()...)
	case 'c':
		b = appendStrftime(b, 'a', t)
		b = append(b, ' ')
		b = appendStrftime(b, 'b', t)
		return fmt.Appendf(b, " %2d %02d:%02d:%02d %d", t.Day(), t.Hour(), t.Minute(), t.Second(), t.Year())
	case 'C':
		return fmt.Appendf(b, "%02d", t.Year()/100)
	case 'd':
		return fmt.Appendf(b, "%02d", t.Day())
	case 'D', 'x':
		return fmt.Appendf(b, "%02d/%02d/%02d", int(t.Month()), t.Day(), t.Year()%100)
	case 'e':
		return fmt.Appendf(b, "%2d", t.Day())
	case 'F':
		return fmt.Appendf(b, "%d-%02d-%02d", t.Year(), int(t.Month()), t.Day())
	case 'g':
		y, _ := t.ISOWeek()
		return fmt.Appendf(b, "%02d", y%100)
	case 'G':
		y, _ := t.ISOWeek()
		return strconv.AppendInt(b, int64(y), 10)
	case 'H':
		return fmt.Appendf(b, "%02d", t.Hour())
	case 'I':
		return fmt.Appendf(b, "%02d", hour12(t))
	case 'j':
		return fmt.Appendf(b, "%03d", t.YearDay())
	case 'k':
		return fmt.Appendf(b, "%2d", t.Hour())
	case 'l':
		return fmt.Appendf(b, "%2d", hour12(t))
	case 'm':
		return fmt.Appendf(b, "%02d", int(t.Month()))
	case 'M':
		return fmt.Appendf(b, "%02d", t.Minute())
	case 'n':
		return append(b, '\n')
	case 'p':
		if t.Hour() < 12 {
			return append(b, "AM"...)
		}
		return append(b, "PM"...)
	case 'P':
		if t.Hour() < 12 {
			return append(b, "am"...)
		}
		return append(b, "pm"...)
	case 'r':
		b = fmt.Appendf(b, "%02d:%02d:%02d ", hour12(t), t.Minute(), t.Second())
		return appendStrftime(b, 'p', t)
	case 'R':
		return fmt.Appendf(b, "%02d:%02d", t.Hour(), t.Minute())
	case 's':
		return strconv.AppendInt(b, t.Unix(), 10)
	case 'S':
		return fmt.Appendf(b, "%02d", t.Second())
	case 't':
		return append(b, '\t')
	case 'T', 'X':
		return fmt.Appendf(b, "%02d:%02d:%02d", t.Hour(), t.Minute(), t.Second())
	case 'u':
		return strconv.AppendInt(b, int64((int(t.Weekday())+6)%7+1), 10)
	case 'U':
		return fmt.Appendf(b, "%02d", (t.YearDay()-1+7-int(t.Weekday()))/7)
	case 'V':
		_, w := t.ISOWeek()
		return fmt.Appendf(b, "%02d", w)
	case 'w':
		return strconv.AppendInt(b, int64(t.Weekday()), 10)
	case 'W':
		return fmt.Appendf(b, "%02d", (t.YearDay()-1+7-(int(t.Weekday())+6)%7)/7)
	case 'y':
		return fmt.Appendf(b, "%02d", t.Year()%100)
	case 'Y':
		return strconv.AppendInt(b, int64(t.Year()), 10)
	case 'z':
		return append(b, t.Format("-0700")...)
	case 'Z':
		name, _ := t.Zone()
		return append(b, name...)
	case '%':
		return append(b, '%')
	}
	return append(b, '%', c)
}

func hour12(t time.Time) int {
	if h := t.Hour() % 12; h != 0 {
		return h
	}
	return 12
}
