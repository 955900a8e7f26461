package harness

import (
	"net/http"
	"testing"
)

// TestInstances starts two filter instances on one external nats-server, stops one
// gracefully (exit status 0), kills the other, and brings both back on their listeners.
func TestInstances(t *testing.T) {
	sim := StartSim(t)
	_, url := StartNATS(t)
	cfg := WriteConfig(t, sim, url, "")
	ins := StartInstances(t, "filter", cfg, 2)
	if len(ins) != 2 || ins[0].Admin == ins[1].Admin {
		t.Fatalf("want 2 instances on distinct listeners, got %+v", ins)
	}
	for _, in := range ins {
		if exited, _ := in.Exited(); exited {
			t.Fatalf("%s exited at start:\n%s", in.Name, in.Logs())
		}
	}

	ins[0].Stop(t)
	exited, err := ins[0].Exited()
	if !exited || err != nil {
		t.Fatalf("after SIGTERM: exited=%v err=%v, want a clean exit:\n%s", exited, err, ins[0].Logs())
	}
	ins[1].Kill(t)
	exited, err = ins[1].Exited()
	if !exited || err == nil {
		t.Fatalf("after SIGKILL: exited=%v err=%v, want death by signal", exited, err)
	}

	for _, in := range ins {
		in.Restart(t)
		resp, err := http.Get("http://" + in.Admin + "/readyz")
		if err != nil {
			t.Fatalf("readyz after restart: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz after restart: %s", resp.Status)
		}
		if exited, _ := in.Exited(); exited {
			t.Fatalf("restarted %s exited", in.Name)
		}
	}
}
