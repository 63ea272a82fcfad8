"""The pip-route SAM templates (sam-templates/pip/): lint-clean, transformable offline, and set up
as the pip package's two modes need. That each mode serves what these templates deploy is proven
with the wheel itself (tests/wheel/test_wheel.py: the `pip install -t` task root through the exec
wrapper, with this directory's app and the template's settings)."""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from test_templates import REGION, _load, _one, _translate  # noqa: E402

import cfnlint.api  # noqa: E402

TEMPLATES = sorted(HERE.glob("*.yaml"))
WRAPPER = "/var/task/lambda_wsgi/exec-wrapper"


def test_both_modes_have_a_template_and_the_two_apps_example_one():
    assert [p.name for p in TEMPLATES] == ["handler.yaml", "http-api.yaml", "together.yaml"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_cfn_lint_clean(path):
    problems = cfnlint.api.lint_file(path, config=cfnlint.api.ManualArgs(regions=[REGION]))
    assert not problems, "\n".join(str(p) for p in problems)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_the_package_comes_from_requirements_txt_and_no_layer(path):
    function = _one(_translate(path), "AWS::Lambda::Function")
    assert "Layers" not in function
    code_uri = _load(path)["Resources"]["AppFunction"]["Properties"]["CodeUri"]
    requirements = (HERE / code_uri / "requirements.txt").read_text().split()
    # Pinned: PyPI's `lambda-wsgi` is another project.
    assert "lambda-wsgi-runtime==0.1.0" in requirements and "lambda-wsgi" not in requirements
    assert function["Runtime"] == {"Ref": "PythonRuntime"}


def test_the_wrapper_route_points_at_the_package_in_the_task_root():
    function = _one(_translate(HERE / "http-api.yaml"), "AWS::Lambda::Function")
    assert function["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == WRAPPER
    assert function["Handler"] == "app.app"


def test_handler_mode_names_the_handler_and_the_app():
    function = _one(_translate(HERE / "handler.yaml"), "AWS::Lambda::Function")
    assert function["Handler"] == "lambda_wsgi.handler"
    variables = function["Environment"]["Variables"]
    assert variables["WSGI_APP"] == "app:app" and "AWS_LAMBDA_EXEC_WRAPPER" not in variables


def test_the_two_apps_template_builds_with_the_examples_makefile_and_mounts_its_table():
    template = _load(HERE / "together.yaml")
    resource = template["Resources"]["AppFunction"]
    assert resource["Metadata"] == {"BuildMethod": "makefile"}
    code = (HERE / resource["Properties"]["CodeUri"]).resolve()
    # sam build runs the target named after the function's logical id, in CodeUri.
    makefile = (code / "Makefile").read_text()
    assert "build-AppFunction:" in makefile and "assemble.py" in makefile
    function = _one(_translate(HERE / "together.yaml"), "AWS::Lambda::Function")
    variables = function["Environment"]["Variables"]
    assert variables["AWS_LAMBDA_EXEC_WRAPPER"] == WRAPPER
    assert (code / variables["WSGI_MOUNTS_FILE"]).is_file() and "WSGI_APP" not in variables
    table = (code / variables["WSGI_MOUNTS_FILE"]).read_text()
    assert "/shop = mysite.wsgi:application" in table and "/     = app:app" in table
