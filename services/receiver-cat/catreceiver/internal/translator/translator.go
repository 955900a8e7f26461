// Package translator converts decoded CAT message trees into a DatakitSpan (one per tree,
// from its root transaction) and heartbeat status XML into metric points (datakit-spec §1.6).
package translator

import (
	"encoding/xml"
	"errors"
	"strings"
	"time"

	"github.com/tracekit/tracekit/libs/spanmodel"
	pointpb "github.com/tracekit/tracekit/proto/gen/go/point"
	spanv1 "github.com/tracekit/tracekit/proto/gen/go/tracekit/span/v1"
	"github.com/tracekit/tracekit/services/receiver-cat/catreceiver/internal/nt1"
)

// Source is the measurement and source tag of CAT spans, and the measurement of its
// heartbeat metrics.
const Source = "cat"

// Options are the per-input settings and the receive context of a conversion.
type Options struct {
	// Tags are [inputs.cat.tags], added to every span without overriding.
	Tags map[string]string
	// NowUnixNano stamps heartbeats whose status carries no readable timestamp.
	NowUnixNano int64
	// Location is the zone of heartbeat timestamps (CAT writes local time); nil means UTC.
	Location *time.Location
}

// ErrNoMessageID is returned for a tree whose header has no message id to build ids from.
var ErrNoMessageID = errors.New("cat message tree has no message id")

// Span converts the tree's root transaction. It returns nil (and no error) for trees that
// are not traces: no transaction, a client "Reboot", or a "Status" heartbeat transaction.
func Span(t *nt1.Tree, o Options) (*spanv1.DatakitSpan, error) {
	root := t.Root
	if root == nil || root.Name == "Reboot" || root.Name == "Status" {
		return nil, nil
	}
	if t.MessageID == "" {
		return nil, ErrNoMessageID
	}
	name := root.Name
	if root.Type == "System" && strings.HasPrefix(name, "UploadMetric") {
		name = "UploadMetric" // one resource, not one per upload
	}
	traceID := t.RootMessageID
	if traceID == "" {
		traceID = t.MessageID
	}
	parent, spanType := t.ParentMessageID, spanmodel.SpanTypeLocal
	if parent == "" {
		parent, spanType = "0", spanmodel.SpanTypeEntry
	}
	status := spanmodel.StatusOK
	if root.Status != "0" {
		status = spanmodel.StatusError
	}
	s := &spanv1.DatakitSpan{
		TraceId:       traceID,
		ParentId:      parent,
		SpanId:        t.MessageID,
		Service:       t.Domain,
		Resource:      name,
		Operation:     name,
		Source:        Source,
		SpanType:      spanType,
		SourceType:    root.Type,
		Status:        status,
		StartUnixNano: root.TimestampMs * int64(time.Millisecond),
		DurationNano:  root.DurationMicros * int64(time.Microsecond),
		Tags: map[string]string{
			"host":              t.Hostname,
			"address":           t.IPAddress,
			"thread_group_name": t.ThreadGroupName,
			"thread_id":         t.ThreadID,
			"thread_name":       t.ThreadName,
		},
	}
	for k, v := range o.Tags {
		if _, ok := s.Tags[k]; !ok {
			s.Tags[k] = v
		}
	}
	return s, nil
}

// Heartbeats converts every heartbeat of the tree into metric points. A heartbeat whose
// data is not status XML is skipped and counted in the second result.
func Heartbeats(t *nt1.Tree, o Options) ([]*pointpb.PBPoint, int) {
	var pts []*pointpb.PBPoint
	bad := 0
	for _, h := range t.Heartbeats {
		var st status
		if err := xml.Unmarshal([]byte(h.Data), &st); err != nil {
			bad++
			continue
		}
		pts = append(pts, st.points(t.Domain, t.Hostname, o)...)
	}
	return pts, bad
}

type status struct {
	XMLName   xml.Name `xml:"status"`
	Timestamp string   `xml:"timestamp,attr"`
	Runtime   *struct {
		StartTime   int64  `xml:"start-time,attr"`
		UpTime      int64  `xml:"up-time,attr"`
		JavaVersion string `xml:"java-version,attr"`
		UserName    string `xml:"user-name,attr"`
		UserDir     string `xml:"user-dir"`
	} `xml:"runtime"`
	OS *struct {
		Name                   string  `xml:"name,attr"`
		Arch                   string  `xml:"arch,attr"`
		Version                string  `xml:"version,attr"`
		AvailableProcessors    int64   `xml:"available-processors,attr"`
		SystemLoadAverage      float64 `xml:"system-load-average,attr"`
		ProcessTime            int64   `xml:"process-time,attr"`
		TotalPhysicalMemory    int64   `xml:"total-physical-memory,attr"`
		FreePhysicalMemory     int64   `xml:"free-physical-memory,attr"`
		CommittedVirtualMemory int64   `xml:"committed-virtual-memory,attr"`
		TotalSwapSpace         int64   `xml:"total-swap-space,attr"`
		FreeSwapSpace          int64   `xml:"free-swap-space,attr"`
	} `xml:"os"`
	Disk *struct {
		Volumes []struct {
			ID     string `xml:"id,attr"`
			Total  int64  `xml:"total,attr"`
			Free   int64  `xml:"free,attr"`
			Usable int64  `xml:"usable,attr"`
		} `xml:"disk-volume"`
	} `xml:"disk"`
	Memory *struct {
		Max          int64 `xml:"max,attr"`
		Total        int64 `xml:"total,attr"`
		Free         int64 `xml:"free,attr"`
		HeapUsage    int64 `xml:"heap-usage,attr"`
		NonHeapUsage int64 `xml:"non-heap-usage,attr"`
		GC           []struct {
			Name  string `xml:"name,attr"`
			Count int64  `xml:"count,attr"`
			Time  int64  `xml:"time,attr"`
		} `xml:"gc"`
	} `xml:"memory"`
	Thread *struct {
		Count             int64 `xml:"count,attr"`
		DaemonCount       int64 `xml:"daemon-count,attr"`
		PeekCount         int64 `xml:"peek-count,attr"`
		TotalStartedCount int64 `xml:"total-started-count,attr"`
		CatThreadCount    int64 `xml:"cat-thread-count,attr"`
		PigeonThreadCount int64 `xml:"pigeon-thread-count,attr"`
		HTTPThreadCount   int64 `xml:"http-thread-count,attr"`
	} `xml:"thread"`
}

// point builds one metric point; keys are DataKit's (section_attribute, dashes kept).
type point struct{ p *pointpb.PBPoint }

func newPoint(domain, host string, ts int64) point {
	p := point{&pointpb.PBPoint{Name: Source, Time: ts}}
	return p.tag("domain", domain).tag("hostName", host)
}

func (p point) tag(k, v string) point {
	p.p.Fields = append(p.p.Fields, &pointpb.Field{Key: k, Val: &pointpb.Field_S{S: v}, IsTag: true})
	return p
}

func (p point) i(k string, v int64) point {
	p.p.Fields = append(p.p.Fields, &pointpb.Field{Key: k, Val: &pointpb.Field_I{I: v}})
	return p
}

func (p point) f(k string, v float64) point {
	p.p.Fields = append(p.p.Fields, &pointpb.Field{Key: k, Val: &pointpb.Field_F{F: v}})
	return p
}

func (s *status) points(domain, host string, o Options) []*pointpb.PBPoint {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	ts := o.NowUnixNano
	if t, err := time.ParseInLocation("2006-01-02 15:04:05.000", s.Timestamp, loc); err == nil {
		ts = t.UnixNano()
	}
	var pts []*pointpb.PBPoint
	if r := s.Runtime; r != nil {
		pts = append(pts, newPoint(domain, host, ts).tag("runtime_java-version", r.JavaVersion).tag("runtime_user-name", r.UserName).
			tag("runtime_user-dir", r.UserDir).i("runtime_up-time", r.UpTime).i("runtime_start-time", r.StartTime).p)
	}
	if x := s.OS; x != nil {
		pts = append(pts, newPoint(domain, host, ts).tag("os_name", x.Name).tag("os_arch", x.Arch).tag("os_version", x.Version).
			i("os_available-processors", x.AvailableProcessors).f("os_system-load-average", x.SystemLoadAverage).
			i("os_process-time", x.ProcessTime).i("os_total-physical-memory", x.TotalPhysicalMemory).
			i("os_free-physical-memory", x.FreePhysicalMemory).i("os_committed-virtual-memory", x.CommittedVirtualMemory).
			i("os_total-swap-space", x.TotalSwapSpace).i("os_free-swap-space", x.FreeSwapSpace).p)
	}
	if d := s.Disk; d != nil {
		for _, v := range d.Volumes {
			// DataKit tags the volume id as os_name.
			pts = append(pts, newPoint(domain, host, ts).tag("os_name", v.ID).
				i("disk_total", v.Total).i("disk_free", v.Free).i("disk_usable", v.Usable).p)
		}
	}
	if m := s.Memory; m != nil {
		pts = append(pts, newPoint(domain, host, ts).i("memory_max", m.Max).i("memory_total", m.Total).i("memory_free", m.Free).
			i("memory_heap-usage", m.HeapUsage).i("memory_non-heap-usage", m.NonHeapUsage).p)
		for _, gc := range m.GC {
			pts = append(pts, newPoint(domain, host, ts).tag("memory_gc_name", gc.Name).
				i("memory_gc_count", gc.Count).i("memory_gc_time", gc.Time).p)
		}
	}
	if th := s.Thread; th != nil {
		pts = append(pts, newPoint(domain, host, ts).i("thread_count", th.Count).i("thread_daemon_count", th.DaemonCount).
			i("thread_peek_count", th.PeekCount).i("thread_total_started_count", th.TotalStartedCount).
			i("thread_cat_thread_count", th.CatThreadCount).i("thread_pigeon_thread_count", th.PigeonThreadCount).
			i("thread_http_thread_count", th.HTTPThreadCount).p)
	}
	return pts
}
