"""Template limits: hostile templates end in a clear PromptError (in a subprocess under a 1.5 GB
address-space cap, so a template that allocated its way out would die there, not here), saving
checks variables against what the stage gives, and ordinary templates are not hindered."""
import json
import subprocess
import sys
import textwrap

import pytest

from storynb import PromptError
from storynb.prompts import STAGE_VARIABLES, render

HOSTILE = {
    "huge power": "{{ 9**(9**9) }}",
    "power tower": "{{ 10 ** (10 ** (10 ** 10)) }}",
    "huge repetition": "{{ 'x' * 10**9 }}",
    "huge list": "{{ ([0] * 10**9)|length }}",
    "repetition of a repetition": "{{ ('x' * 900000) * 900000 }}",
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
    "nested silent loops": "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "loops over a long string": "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "doubling with ~": "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "doubling with +": "{% set ns = namespace(s=['x']) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
    "squaring a number": "{% set ns = namespace(n=7) %}{% for i in range(64) %}{% set ns.n = ns.n * ns.n %}{% endfor %}{{ ns.n }}",
    "shared references": "{% set a = 'x' * 100000 %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}{% set d = [c,c,c,c,c,c,c,c,c,c] %}{{ d }}",
    "join of shared references": "{% set a = 'x' * 100000 %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}{% set c = [b,b,b,b,b,b,b,b,b,b] %}{{ c|join }}",
    "center filter": "{{ 'x'|center(1000000000) }}",
    "ljust method": "{{ 'x'.ljust(999999999) }}",
    "format width": "{{ '{:>999999999}'.format(1) }}",
    "nested format width": "{{ '{:>{w}}'.format(1, w=999999999) }}",
    "printf width": "{{ '%999999999s' % 'x' }}",
    "printf star": "{{ '%*s' % (999999999, 'x') }}",
    "replace amplification": "{% set s = 'x' * 100000 %}{{ s.replace('x', s) }}",
    "indent amplification": "{% set s = '\\n' * 100000 %}{{ s|indent(100000) }}",
    "batch fill": "{{ [1]|batch(1000000000, 'x')|list }}",
    "tojson indent": "{{ {'a': [1, 2]}|tojson(indent=1000000000) }}",
    "translate table": "{% set s = 'x' * 100000 %}{{ s.translate({120: s}) }}",
    "self recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "deep nesting": "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "long output": "{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}",
    "lipsum": "{{ lipsum(n=1000000000) }}",
    "class escape": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "globals escape": "{{ cycler.__init__.__globals__ }}",
    "context escape": "{{ self._TemplateReference__context }}",
    "format escape": "{{ '{0.__class__.__mro__}'.format('') }}",
    "item escape": "{{ ''['__class__'] }}",
    "range escape": "{{ range.__globals__ }}",
    "mutation": "{% set l = [1] %}{{ l.append(2) }}",
    "division by zero": "{{ 1 // 0 }}",
    "float overflow": "{{ 10.0 ** 400 }}",
}

SCRIPT = textwrap.dedent("""
    import json, resource, sys, tempfile, time
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
    from storynb import Studio
    from storynb.errors import PromptError
    studio = Studio(tempfile.mkdtemp() + "/studio.db")
    set_id = studio.prompts.create_set("hostile", "en")
    for name, body in json.load(sys.stdin).items():
        started = time.monotonic()
        try:
            saved = studio.prompts.edit(set_id, "rewrite", body)  # reading it must not hang
            studio.prompts.test_render(set_id, "rewrite", {"topic": "t", "language": "en",
                                       "style": "", "length": "short", "audience": ""})
            outcome = "rendered"
        except PromptError as exc:
            outcome = "PromptError: " + str(exc)
        except BaseException as exc:
            outcome = f"raw {type(exc).__name__}: {exc}"[:300]
        print(json.dumps({"name": name, "outcome": outcome,
                          "seconds": round(time.monotonic() - started, 2)}), flush=True)
""")


def test_hostile_templates_end_in_a_clear_error_under_a_memory_cap():
    done = subprocess.run([sys.executable, "-c", SCRIPT], input=json.dumps(HOSTILE),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert set(results) == set(HOSTILE)
    for name, result in results.items():
        assert result["outcome"].startswith("PromptError: "), (name, result)
        assert "Traceback" not in result["outcome"]
    says = {name: r["outcome"] for name, r in results.items()}
    assert "10,000 bits" in says["huge power"]
    assert "at most 1,000,000" in says["huge repetition"]
    assert "range() of 100,000" in says["nested loops"]
    assert "longer than 1 s" in says["nested silent loops"]
    assert "sandbox forbids" in says["class escape"]
    assert "more than 200,000 characters" in says["long output"]
    assert "ZeroDivisionError" in says["division by zero"]


def test_saving_names_variables_the_stage_does_not_give(studio):
    set_id = studio.prompts.create_set("mine", "en", copy_from="default-en")
    before = len(studio.prompts.versions(set_id, "storyboard"))
    with pytest.raises(PromptError) as info:
        studio.prompts.edit(set_id, "storyboard", "Split {{ storyy }} into {{ shots }} shots.")
    message = str(info.value)
    assert "{{ storyy }}" in message and "story, shots, language, fps" in message
    with pytest.raises(PromptError, match=r"\{\{ tone \}\}"):
        studio.prompts.edit(set_id, "rewrite", "Tell {{ topic }}.", system="Be {{ tone }}.")
    assert len(studio.prompts.versions(set_id, "storyboard")) == before  # nothing saved
    # the sandbox's own names and loop variables are not the stage's business
    studio.prompts.edit(set_id, "storyboard", "{% for i in range(shots) %}{{ loop.index }} "
                        "{% endfor %}{{ story }}")


def test_every_variable_a_stage_claims_to_give_is_given(studio, make_project):
    """Templates that use every variable of STAGE_VARIABLES render in a real offline run."""
    set_id = studio.prompts.create_set("all-vars", "en", copy_from="default-en")
    for stage, names in STAGE_VARIABLES.items():
        tpl = studio.prompts.template(set_id, stage)
        # `|string` on an undefined variable raises at once (StrictUndefined), output or not
        used = " ~ ".join("%s|string" % n for n in names)
        studio.prompts.edit(set_id, stage, tpl["body"] + "{% set _seen = " + used + " %}")
    project = make_project(prompt_set=set_id)
    report = project.run(["rewrite", "storyboard", "camera", "images"])
    assert report.status == "done", report.summary()


def test_ordinary_templates_are_not_hindered():
    body = ("{% for shot in shots %}{{ loop.index }}. {{ shot.scene|title|truncate(40) }} "
            "({{ '%.1f'|format(shot.seconds) }} s){{ ', ' if not loop.last }}{% endfor %}\n"
            "{{ story|wordwrap(60) }}\n{{ '{:>8}'.format('right') }} {{ 'ab' * 3 }} {{ 2 ** 10 }} "
            "{{ [1, 2] + [3] }} {{ 'x' ~ 1 }} {{ ('word ' * 2000)|length }} {{ range(5)|list }}")
    out = render(body, {"shots": [{"scene": "the harbour at dusk", "seconds": 3.25}] * 3,
                        "story": "Once upon a time " * 50})
    assert out.startswith("1. The Harbour At Dusk (3.2 s), 2.")
    assert "   right ababab 1024 [1, 2, 3] x1 10000 [0, 1, 2, 3, 4]" in out
