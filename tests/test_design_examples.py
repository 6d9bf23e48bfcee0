"""DESIGN.md's two example specs parse, resolve and lower as written."""
from model import ir
from model.pipeline import compile_spec
from tests.conftest import DATA


def compile_file(name):
    path = DATA / "design" / name
    return compile_spec(str(path), path.read_bytes())


def test_first_example_lowers_every_path():
    compiled = compile_file("vfio_dmabuf_revoke.lspec")
    assert compiled.diagnostics == ()
    program = compiled.program
    assert program.title == "VFIO DMABUF mmap() with permanent revoke"
    assert set(program.codes) == {"fault(buf)", "revoke_ioctl(buf)"}
    assert [t.code for t in program.scenarios[0].threads] == [
        "fault(buf)", "revoke_ioctl(buf)", "fault(buf)"]
    acquired = [op.lock for op in program.codes["revoke_ioctl(buf)"].ops
                if isinstance(op, ir.Acquire)]
    assert acquired == ["memory_lock", "resv", "i_mmap_rwsem"]
    assert program.orders[0].locks == ("mmap_lock", "memory_lock", "resv", "i_mmap_rwsem")


def test_second_example_contexts():
    program = compile_file("irqsafe4.lspec").program
    assert program.codes["e3"].context is ir.Context.HARDIRQ
    assert program.expectations[0].verdict == "irq-inversion"
