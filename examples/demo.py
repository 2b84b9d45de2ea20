import os


def list_python_files(root):
    """Return the paths of all .py files under root."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            if name.endswith(".py"):
                paths.append(os.path.join(dirpath, name))
    return paths


if __name__ == "__main__":
    print(len(list_python_files(".")))
