module blindgo

go 1.26
