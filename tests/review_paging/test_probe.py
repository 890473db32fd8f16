import pytest
V1 = "/api/v1"
LISTS = {
 "sites": ["name","id","-name"], "chairs": [None, "name","site","-site"], "staff": [None,"role","user__last_name","-id"],
 "opening-hours": [None,"site","weekday"], "closures": [None,"-starts_at"], "shifts": [None,"-starts_at"],
 "reminder-policies": [None,"site"], "patients": [None,"date_of_birth","-first_name"], "evaluations": [None,"evaluated_on"],
 "patient-flags": [None,"recorded_at"], "contraindications": [None,"label"], "protocols": [None,"name"],
 "plans": [None,"review_date","start_date","-review_date"], "appointments": [None,"status","-starts_at"],
 "reminders": [None,"due_at"], "questionnaire-responses": [None,"total_score","-total_score","completed_at"],
 "clinical/controlled-substance-log": [None, "id", "-id"],
}
def test_probe(world):
    out = []
    for role in ["clinic_admin", "prescriber", "patient_b"]:
        c = world.client(role)
        for url, orders in LISTS.items():
            for o in orders:
                q = f"{V1}/{url}/?paging=cursor&limit=1" + (f"&ordering={o}" if o else "")
                try:
                    r = c.get(q)
                except Exception as e:
                    out.append((role, q, "EXC", repr(e)[:150])); continue
                if r.status_code != 200:
                    out.append((role, q, r.status_code, r.content[:150])); continue
                # walk
                off = c.get(q.replace("paging=cursor&limit=1", "limit=200")).json()
                off_ids = [x.get("id") for x in off["results"]]
                seen = [x.get("id") for x in r.json()["results"]]
                page = r.json(); n=0
                try:
                    while page.get("next") and n < 300:
                        rr = c.get(page["next"]); n+=1
                        if rr.status_code != 200:
                            out.append((role, q, "next", rr.status_code, rr.content[:150])); break
                        page = rr.json(); seen += [x.get("id") for x in page["results"]]
                except Exception as e:
                    out.append((role, q, "EXCnext", repr(e)[:150])); continue
                if seen != off_ids:
                    out.append((role, q, "MISMATCH", seen, off_ids))
    for x in out: print(x)
    assert not out
